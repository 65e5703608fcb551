"""Slack: live channels (``slack``) and export archives (``slack-export``)."""
