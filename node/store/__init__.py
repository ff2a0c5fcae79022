"""The content-addressed store: every artifact is named by the SHA-256 of its bytes (DESIGN.md §5).

Backends: a local folder (:mod:`node.store.local`) and the HTTP store server (:mod:`node.store.server`);
:mod:`node.store.client` reads and writes several replicas, re-hashing everything it receives.
"""
