"""SQL, one module per table. Functions take a connection; SQL sits beside the function running it."""
