"""The desktop app's widgets, models and worker bridges (PySide6)."""

from clipdesk.ui.pyside_compat import pin_singletons

pin_singletons()
