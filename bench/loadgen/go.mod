module spooled/bench/loadgen

go 1.22
