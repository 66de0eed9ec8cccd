"""Writes and rules of the digests app, one module per sub-domain; import from the module.

- scrape: scraping sources (opportunities_scrape, source_claim, fetch_policy,
  items_from_body).
- opportunities: writes to the opportunity catalogue (opportunities_upsert,
  opportunities_touch, opportunities_expire).
- digest: the weekly digest (digests_send_due, digest_send_test, digest_picks_for,
  digest_preview).
- digest_batch: one batch of the weekly run as plain rows (digest_batch_build,
  digest_batch_write), written behind the next batch's build.
- digest_email: the digest email's context, headers and signed links (digest_email_context;
  digest_email_for_picks, from a reader's picks).
- tracking: opens, clicks and unsubscribes (digest_record_open, digest_record_click,
  digest_unsubscribe).

Bad input raises digests.errors.DigestsError.
"""
