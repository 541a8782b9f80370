"""The insight report: findings from one run date's tables, rendered as one HTML file."""
