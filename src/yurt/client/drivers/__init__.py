"""Task drivers: raw_exec, exec and docker."""
