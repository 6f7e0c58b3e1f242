"""The configuration on disk: render makes every managed file's content from the settings,
plan compares it with the disk, configure puts the two together from the verdicts, and
apply is the one writer (atomic replacement, the lock, the journal). The Jinja templates
live in templates/."""
