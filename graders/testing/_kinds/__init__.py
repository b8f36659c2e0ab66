"""Per-kind profiles, one module per grader kind; each registers itself with ``add_profile`` on import."""
