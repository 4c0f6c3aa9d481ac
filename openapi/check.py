"""Check the API contract files.

Run from the repository root:  python openapi/check.py

- openapi/spooled.yaml must be a valid OpenAPI 3.1 document (openapi-spec-validator);
- every operation has a unique operationId spelled `<resource>.<verb>` and a tag;
- every operation except health and metrics documents at least one 4xx response;
- proto/spooled.proto must compile, when grpcio-tools is installed.

Prints "openapi: N operations OK" and exits 0, or lists the problems and exits 1.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
from pathlib import Path

try:
    import yaml
    from openapi_spec_validator import validate
except ImportError as exc:  # pragma: no cover - depends on the environment
    sys.exit(f"{exc.name} is missing: pip install openapi-spec-validator pyyaml grpcio-tools")

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi" / "spooled.yaml"
PROTO = ROOT / "proto" / "spooled.proto"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
OPERATION_ID = re.compile(r"^[a-z][A-Za-z]*\.[a-z][A-Za-z]*$")
# Probes and the Prometheus endpoint take no input and cannot be refused.
NO_CLIENT_ERRORS = {"health", "metrics"}


def operations(spec: dict):
    """Yield (method, path, operation) for every operation in the document."""
    for path, item in spec.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield method, path, item[method]


def check_operations(spec: dict) -> tuple[int, list[str]]:
    problems: list[str] = []
    seen: dict[str, str] = {}
    count = 0
    for method, path, op in operations(spec):
        count += 1
        where = f"{method.upper()} {path}"
        op_id = op.get("operationId")
        if not op_id:
            problems.append(f"{where}: no operationId")
            continue
        if not OPERATION_ID.match(op_id):
            problems.append(f"{where}: operationId {op_id!r} is not <resource>.<verb>")
        if op_id in seen:
            problems.append(f"{where}: operationId {op_id!r} already used by {seen[op_id]}")
        seen[op_id] = where
        resource = op_id.split(".", 1)[0]
        if resource not in op.get("tags", []):
            problems.append(f"{where}: tags {op.get('tags')} do not name resource {resource!r}")
        statuses = [str(code) for code in op.get("responses", {})]
        if resource not in NO_CLIENT_ERRORS and not any(s.startswith("4") for s in statuses):
            problems.append(f"{where}: no 4xx response documented")
    return count, problems


def check_proto() -> list[str]:
    """Compile the proto with grpc_tools when it is installed; skip silently otherwise."""
    if importlib.util.find_spec("grpc_tools") is None:
        return []
    from grpc_tools import protoc

    include = Path(importlib.util.find_spec("grpc_tools").origin).parent / "_proto"
    with tempfile.TemporaryDirectory() as out:
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTO.parent}",
                f"-I{include}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                str(PROTO),
            ]
        )
    return [f"{PROTO.relative_to(ROOT)}: protoc exited with {code}"] if code else []


def main() -> int:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    problems: list[str] = []
    try:
        validate(spec)
    except Exception as exc:  # the validator raises several exception types
        problems.append(f"{SPEC.relative_to(ROOT)}: not valid OpenAPI 3.1: {exc}")
    if spec.get("openapi") != "3.1.0":
        problems.append(f"openapi version is {spec.get('openapi')!r}, expected '3.1.0'")
    count, op_problems = check_operations(spec)
    problems += op_problems
    problems += check_proto()
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1
    print(f"openapi: {count} operations OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
