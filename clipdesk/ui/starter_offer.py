"""After a switch from the demo model to a real one: offer the real-world starter categories.

A library first tagged with the demo model starts with the demo's categories (colour, shape).
Once a real model has loaded, the services say whether the real-world set (Scene, Who, Pets,
Subject) is missing and the user has not declined it (:meth:`TagService.starter_offer`, the
same fact ``clipdesk-cli models activate`` prints a hint from). The question opens without
blocking the event loop (``QMessageBox.open``), once a session: *Add them* adds the set (it
retags the library, in the model pool, as saving a category does), *Don't ask again* records the
refusal so neither face offers it again, and *Not now* (or Esc) leaves it for the next start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QWidget

from clipdesk.ui.controller import AppController

if TYPE_CHECKING:  # the services' tag module loads the library's code: not before first paint
    from clipdesk.services.tags import StarterOffer


class StarterCategoriesOffer(QObject):
    """Asks once a session, after a real model has loaded; ``added`` runs once they are in."""

    def __init__(
        self, controller: AppController, parent: QWidget, added: Callable[[], None]
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self._parent = parent
        self._added = added
        self._asked = False
        self.box: QMessageBox | None = None  # the open question, for tests
        controller.modelReady.connect(self._model_ready)

    def _model_ready(self, info: Any) -> None:
        if self._asked or info.is_demo:
            return
        self.controller.call(lambda b, _t: b.services.tags.starter_offer(), self._offer, owner=self)

    def _offer(self, offer: StarterOffer | None) -> None:
        if offer is None or self._asked:
            return
        self._asked = True
        names = ", ".join(offer.names)
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Starter categories",
            f"This library has the demo model's categories (colours and shapes). The real-world "
            f"starter categories ({names}) fit the model you use now. Add them? The model then "
            "tags your photos with them; you can edit or remove them on the Tags page.",
            QMessageBox.StandardButton.Yes
            | QMessageBox.StandardButton.No
            | QMessageBox.StandardButton.Cancel,
            self._parent,
        )
        box.button(QMessageBox.StandardButton.Yes).setText("Add them")
        box.button(QMessageBox.StandardButton.No).setText("Don't ask again")
        box.button(QMessageBox.StandardButton.Cancel).setText("Not now")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _r: self._answered(box))
        self.box = box
        box.open()

    def _answered(self, box: QMessageBox) -> None:
        self.box = None
        choice = box.standardButton(box.clickedButton()) if box.clickedButton() else None
        if choice == QMessageBox.StandardButton.Yes:
            self.controller.call(
                lambda b, t: b.services.tags.add_starters(False, cancel=t),
                lambda _r: self._added(),
                pool="model",
            )
        elif choice == QMessageBox.StandardButton.No:
            self.controller.call(lambda b, _t: b.services.tags.decline_starters())
        box.deleteLater()
