/* version.h - the tidecast release version, shared by the daemon and the CLI. */
#ifndef TC_VERSION_H
#define TC_VERSION_H
#define TC_VERSION "0.1.0"
#endif
