"""The built-in combiners and routers: a small JSON artifact, computed with numpy."""
