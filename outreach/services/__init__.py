"""Writes and rules of the outreach app, one module per sub-domain; import from the module.

- outbox: queue emails (outbox_enqueue, outbox_enqueue_many, OutboxDraft), render them
  (email_render), clean addresses and headers.
- relay: send what is due (OutboxRelay, outbox_drain) with backoff (backoff_delay), take
  back stuck claims, and the admin's retry now / cancel / requeue dead; relay_claims and
  relay_results: its claim and its recording of results, one statement per group.
- events: suppressions (suppression_add) and ESP delivery events (outbox_record_event).
- upsell: upsell sequences (upsell_session_start, upsell_process_due).
- cleanup: expiry and deletion of old sessions, history and outbox rows (outreach_cleanup).
- counts: the counts a job reports (shared by relay and upsell).

Bad input raises outreach.errors.OutboxError.
"""
