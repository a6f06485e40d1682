"""The measurement harness of issue 10 (`make bench`); see bench/README.md."""
