// Debian: libpq-dev installs the client header under /usr/include/postgresql/.
#include <postgresql/libpq-fe.h>
