"""Delivery reports, call lookups and live campaign status, all computed from the database.

- `summary`: counts and figures of one campaign, from SQL aggregates;
- `rows`: the per-contact rows of a report, streamed;
- `csv_report`, `json_report`, `html_report`, `table`: the output formats;
- `lookup`: one call by `external_id` or `call_session_id`;
- `status`: a running campaign's live status, shared with the foreground progress line.
"""
