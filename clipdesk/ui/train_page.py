"""The name the main window looks up for its Train page (see main_window._train_page)."""

from clipdesk.ui.train_tab import TrainTab as TrainPage

__all__ = ["TrainPage"]
