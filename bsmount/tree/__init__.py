"""The virtual tree of a BaseSpace account: naming, nodes, inodes, metadata cache and layout.

Knows the API client's models, not pyfuse3. See :class:`bsmount.tree.tree.Tree`.
"""
