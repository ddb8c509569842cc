"""Messages to clients: the at-most-once message log (outbox.py) and the channels that carry
them (channels.py: SendGrid or an .eml file outbox for email, Twilio or a JSON file outbox
for SMS, a portal notice with an email pointer)."""
