"""The terminal dashboard (Textual): renders engine state, sends engine commands, holds no session logic.

Textual is imported only inside this package; `trails tui` (or `trails` alone on a terminal) opens it
through `trails.ui.tui.app.run`.
"""
