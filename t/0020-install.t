#!/bin/sh
# make install puts the tools, pages and shared files under DESTDIR/PREFIX.
. "${0%/*}/lib.sh"

unset MAKEFLAGS MFLAGS MAKELEVEL
expect 'make install into a scratch DESTDIR' \
    make -s -C "$TOP" B="$B" DESTDIR="$T/root" PREFIX=/usr install
r=$T/root/usr
for f in bin/fedq bin/fedlist bin/fedstat sbin/fedgate; do
	[ -x "$r/$f" ]; ok $? "$f is installed and executable"
done
for f in share/man/man5/fed.conf.5 share/man/man7/fedkit.7 \
    share/man/man8/fedgate.8 share/fedkit/fed.conf \
    share/fedkit/systemd/fedgate.socket share/fedkit/systemd/fedgate@.service \
    share/fedkit/inetd/inetd.conf share/fedkit/xinetd/fedgate \
    share/fedkit/tcpserver/run \
    share/man/man1/fedstat.1 share/bash-completion/completions/fedstat \
    share/zsh/vendor-completions/_fedstat \
    share/man/man1/fedq.1 share/bash-completion/completions/fedq \
    share/zsh/vendor-completions/_fedq \
    share/man/man1/fedlist.1 share/bash-completion/completions/fedlist \
    share/zsh/vendor-completions/_fedlist \
    share/bash-completion/completions/fedgate \
    share/zsh/vendor-completions/_fedgate; do
	[ -f "$r/$f" ]; ok $? "$f is installed"
done
expect 'the installed fedgate runs' "$r/sbin/fedgate" -V
