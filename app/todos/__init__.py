"""Todos: the reference feature. Copy this package's shape when you add your own."""
