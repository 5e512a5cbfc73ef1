"""What counts as the team contacting a lead — one definition for activities, follow-ups and reports."""

# Outbound touches: they set last_contacted_at, count as the first response in reports,
# and complete the follow-up task of that action.
CONTACT_TYPES = frozenset({"call", "phone_call", "email", "email_sent", "meeting", "sms", "message"})
