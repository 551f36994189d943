"""``make bench``: bsmount against rclone and curl on the same bytes (see docs/performance.md)."""
