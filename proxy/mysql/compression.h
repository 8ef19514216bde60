// The compressed protocol towards a client (CLIENT_COMPRESS, zlib): a bufferevent filter
// over the client connection, put on after the login's OK, that inflates the client's
// frames into plain packets and deflates whatever the session writes (protocol/mysql/
// compress.h). The session above it reads and writes plain packets as before.
#pragma once

#include "proxy/client_conn.h"

namespace sluice::mysqlproxy {

// False when the filter could not be put on (the caller closes).
bool StartCompression(ClientConn* client);

}  // namespace sluice::mysqlproxy
