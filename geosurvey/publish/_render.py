"""Rendering folium/branca pages without ever evaluating their text as a template.

branca renders a page in two passes. Each :class:`~branca.element.MacroElement` renders its
constant macros (``header``, ``html``, ``script``) with its attributes as template *variables*
(safe), but then wraps the output in ``branca.element.Element(output)``, whose constructor compiles
that output as a new Jinja template, and the page renders it again. Whatever text the first pass
put in (an area name, a layer name, a title, a popup) thereby becomes template *source*:
``{{ 7*7 }}`` shows as ``49``, ``{{ lipsum.__globals__.os.mkdir('X') }}`` runs code, and a stray
``{{`` raises ``TemplateSyntaxError``. HTML and JSON escaping leave ``{{``/``{%`` alone, so no
escaping closes this.

The root fix here: the macros' output is inserted **verbatim** (:class:`RawHTML`), never compiled.
:func:`render_page` renders a page so that every macro element in it, including those folium adds
while rendering (e.g. ``ElementAddToElement``), renders through :class:`VerbatimMacroElement`.
Only the classes' own constant templates are ever compiled; user text only ever reaches them as
variables. Written by hand because branca offers no such switch (branca 0.8).
"""

from __future__ import annotations

import functools

from branca.element import Element, Figure, MacroElement

from geosurvey.errors import GeosurveyError

__all__ = [
    "RawHTML",
    "VerbatimFigure",
    "VerbatimMacroElement",
    "make_verbatim",
    "render_page",
    "verbatim_children",
]


class RawHTML(Element):
    """An element that renders its text verbatim (never as a template)."""

    def __init__(self, text: str) -> None:
        super().__init__("")
        self._name = "RawHTML"
        self.text = str(text)

    def render(self, **kwargs: object) -> str:
        return self.text


class VerbatimMacroElement(MacroElement):
    """A :class:`~branca.element.MacroElement` whose rendered macros are inserted verbatim.

    Same as branca's ``MacroElement.render`` except that the output of the ``header``, ``html``
    and ``script`` macros is added to the page as :class:`RawHTML` instead of a new template, and
    every child is made verbatim (:func:`make_verbatim`) before it renders.
    """

    def render(self, **kwargs: object) -> None:  # type: ignore[override]
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise GeosurveyError(f"{type(self).__name__} can only render inside a page (Figure)")
        module = self._template.module.__dict__
        for section in ("header", "html", "script"):
            macro = module.get(section)
            if macro is not None:
                getattr(figure, section).add_child(
                    RawHTML(str(macro(self, kwargs))), name=self.get_name()
                )
        for element in verbatim_children(self):
            element.render(**kwargs)


@functools.cache
def _verbatim_class(cls: type) -> type:
    """``cls`` with :class:`VerbatimMacroElement` placed just above ``MacroElement`` in its MRO."""
    return type(cls.__name__, (cls, VerbatimMacroElement), {"__module__": cls.__module__})


def make_verbatim(element: Element) -> Element:
    """Make a macro element render verbatim (when it renders, its children too); returns it.

    A macro element (any folium layer or control) gets a class that renders through
    :class:`VerbatimMacroElement`; its own ``render`` overrides still run (they end in
    ``super().render()``, which now reaches the verbatim one). Other elements are returned as
    they are (see :func:`verbatim_children` for plain elements built from text).
    """
    if isinstance(element, MacroElement) and not isinstance(element, VerbatimMacroElement):
        element.__class__ = _verbatim_class(type(element))
    return element


def verbatim_children(parent: Element) -> list[Element]:
    """The children of ``parent``, each made verbatim, in order.

    A macro element is made verbatim with :func:`make_verbatim`; a plain
    :class:`~branca.element.Element` built from a text (branca compiles that text as a template)
    is replaced in ``parent`` by a :class:`RawHTML` of the same text.
    """
    out = []
    for name, child in list(parent._children.items()):
        if type(child) is Element and child._template_str is not None:
            raw = RawHTML(child._template_str)
            raw._parent = parent
            parent._children[name] = child = raw
        out.append(make_verbatim(child))
    return out


def render_page(figure: Figure) -> str:
    """Render a page whose every element renders verbatim; returns the HTML.

    Parameters
    ----------
    figure
        The page (``m.get_root()`` of a folium map).

    Returns
    -------
    str
        The HTML. No text that went into the page is evaluated as a template: only the element
        classes' own constant templates are compiled.
    """
    for section in (figure.header, figure.html, figure.script):
        verbatim_children(section)
    for element in verbatim_children(figure):
        element.render()
    for section in (figure.header, figure.html, figure.script):
        verbatim_children(section)
    return figure._template.render(this=figure, kwargs={})


class VerbatimFigure(Figure):
    """A :class:`~branca.element.Figure` that renders with :func:`render_page`."""

    def render(self, **kwargs: object) -> str:
        return render_page(self)
