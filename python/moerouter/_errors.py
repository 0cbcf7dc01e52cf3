"""moerouter.Error raised from the Python layer, shaped like the ones the C++ core raises."""
from ._moerouter import Error


def error(code, message):
    """An Error with `.code` set; the message reads "<code>: <argument>: expected ..., got ..."
    like the C++ messages do. `code` is one of moerouter.ERROR_CODES."""
    e = Error(f"{code}: {message}")
    e.code = code
    return e
