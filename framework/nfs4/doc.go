// Package nfs4 is a userspace NFSv4.1 client (see the package
// documentation at the end of the work).
package nfs4
