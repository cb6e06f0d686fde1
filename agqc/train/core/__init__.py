"""What `agqc train` shares with its standalone training scripts: standard library and torch only."""
