"""Shared machinery of the Python conformance runners (raw HTTP and the Python SDK).

A runner supplies a `Driver` (driver.py); `cli.main` does the rest: parses the common command
line, loads and validates the scenarios, probes the server's features, runs every scenario
through `engine.run_scenario`, applies the skips file and writes the JSON report.
"""
