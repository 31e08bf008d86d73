"""The scan pipeline: intake → split → page (read) → index, the job-state rules, batches, hot folder."""
