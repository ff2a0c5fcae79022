"""The unit protocol: what every role, the audit and the explorer share about a unit of work.

Between :mod:`node.ml` + :mod:`node.chain` + :mod:`node.store` below and :mod:`node.roles`, :mod:`node.audit` and
:mod:`explorer` above; it imports no role and nothing above it. Its parts: a unit's reference built once
(:mod:`~node.protocol.unit`), the one source of a task's material (:mod:`~node.protocol.material`), the privacy
modes that know how to train, verify and evaluate a unit (:mod:`~node.protocol.modes`), the one judge of training
and aggregation units (:mod:`~node.protocol.judge`), the batch-then-singles sender (:mod:`~node.protocol.sender`)
and the deadline arithmetic of work that takes time (:mod:`~node.protocol.timing`); the split mode's step protocol
between a miner and the owner's node (``step_auth``, ``owner_client``, ``owner_service``).
"""
