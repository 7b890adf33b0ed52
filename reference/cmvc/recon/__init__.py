"""§7.3-7.7 Reconstruction profiles: how the frames between two decoded keyframes are made."""
