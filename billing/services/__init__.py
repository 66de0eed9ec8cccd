"""Writes of the billing app, one module per sub-domain; import from the module.

- credits: credit resets (credits_reset_due, credits_reset, credits_reset_for_period),
  credits_consume and credits_grant.
- reset_writes: the bulk SQL that writes a batch of resets (resets_write).
- stripe_events: Stripe webhooks (stripe_event_verify, stripe_event_process). Not named
  stripe.py, so that no reader mistakes it for the `stripe` library.
- checkout: going Pro (Checkout Sessions, the customer portal) and the
  checkout.session.completed handler that stripe_events dispatches to.

Bad input raises billing.exceptions.BillingError.
"""
