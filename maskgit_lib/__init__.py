"""maskgit_lib: the library behind the maskgit-course notebooks and the ``maskgit`` command line.

A folder per stage of the course, in the order data flows: ``data`` (notebook 00), ``tokenizer``
(01-02), ``generator`` (03-06), ``evaluation`` (07), then ``course`` (what only the notebooks need:
graders, widgets, pictures). The root holds the engine every stage shares: ``config``, ``checkpoint``,
``trainer``, ``precision``, ``distributed``, ``system``, ``paths``, ``progress``, ``figures`` and ``cli``.
Imports run one way, each stage using only the engine and the stages before it (ARCHITECTURE.md).
Importing the package itself is cheap: a stage is imported when it is used.
"""

__version__ = "0.1.0"
