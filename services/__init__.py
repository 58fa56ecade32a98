"""segflow's business operations: customers, events, policies, processes, tasks, audit
queries, KPIs and the population, in one home.

API routes, web pages and the command line call these functions; they hold no HTTP shape
(routes map their domain errors to problem+json, pages put them beside the field). Store work
here is synchronous and short: callers on an event loop run it in a thread pool, and no store
transaction is ever open across a network call.
"""
