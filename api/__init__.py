"""The FastAPI service: CRM pushes, task inboxes, policy management and audit reads."""
