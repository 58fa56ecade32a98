"""Where the workflows run and how they are found: the task queue and the search attributes.

Every search attribute is a Keyword and none carries personal data (a customer id, never a
name). Worker, starters and test fixtures register exactly these.
"""

from __future__ import annotations

TASK_QUEUE = "segflow"
SA_CUSTOMER = "CustomerId"
SA_KIND = "ProcessKind"
SA_STAGE = "Stage"
SA_POLICY = "PolicyVersion"
SEARCH_ATTRIBUTES = (SA_CUSTOMER, SA_KIND, SA_STAGE, SA_POLICY)  # all Keyword; no PII
