"""maskgit_lib: the library behind the maskgit-course notebooks and the ``maskgit`` command line.

One module per idea: ``config`` (profiles), ``data`` / ``avatars`` / ``images`` / ``kaggle_source``
(data sets), ``viz`` (figures), ``widgets`` (ipywidgets panels), ``cli`` (the command line).
Importing the package is cheap: modules are imported where they are used.
"""

__version__ = "0.1.0"
