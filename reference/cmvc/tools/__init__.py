"""Command-line tools and file writers (outside the library logic, as dav1d's tools/)."""
