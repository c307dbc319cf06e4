"""Delivery reports, call lookups and live campaign status, all computed from the database.

- `summary`: counts and figures of one campaign, from SQL aggregates;
- `rows`: the per-contact rows of a report, streamed; their fixed columns declared once (`COLUMNS`);
- `figures`: the overview figures, one list shared by the table, the HTML page and the Excel file;
- `csv_report`, `json_report`, `html_report` (+ `templates/`, `chart`), `xlsx_report`, `table`:
  the output formats;
- `zone`: times in the campaign's zone for people; `messages`: every text in English and Russian;
- `lookup`: one call by `external_id` or `call_session_id`, or every attempt to a phone number;
- `status`: a running campaign's live status and time to finish, shared with the progress line.
"""
