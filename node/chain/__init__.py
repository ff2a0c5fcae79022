"""The chain side of a node: build, deploy, devnet, typed contract wrapper, transactions and events.

Never imports torch: roles compose this package with :mod:`node.ml`.
"""
