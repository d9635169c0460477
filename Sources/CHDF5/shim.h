// Debian puts the serial HDF5 headers under /usr/include/hdf5/serial; pkg-config supplies the -I.
#include <hdf5.h>
