"""Demo-weight training parts of this tracker (torch)."""
