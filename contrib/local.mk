# contrib/local.mk - what contrib/ installs for a deployment: the systemd
# units of the daemons (contrib/systemd/, with the programs' installed
# paths), an example of /etc/default/agora, which they read, and the
# NVMe-oF scripts that export the drives and connect them.

agora_units = contrib/systemd/agora-metad.service \
	contrib/systemd/agora-fused@.service contrib/systemd/agora-s3d.service

if SYSTEMD_UNITDIR
systemdsystemunit_DATA = $(agora_units)
else
systemdexamplesdir = $(docdir)/examples/systemd
systemdexamples_DATA = $(agora_units)
endif
systemddefaultdir = $(docdir)/examples/systemd
dist_systemddefault_DATA = contrib/systemd/agora.default

EXTRA_DIST += $(agora_units:=.in)
CLEANFILES += $(agora_units)

# The units name the programs where make install puts them.
agora_unit_edit = sed -e 's|@sbindir[@]|$(sbindir)|g'
contrib/systemd/agora-metad.service: $(srcdir)/contrib/systemd/agora-metad.service.in Makefile
contrib/systemd/agora-fused@.service: $(srcdir)/contrib/systemd/agora-fused@.service.in Makefile
contrib/systemd/agora-s3d.service: $(srcdir)/contrib/systemd/agora-s3d.service.in Makefile
$(agora_units):
	$(AM_V_GEN)$(MKDIR_P) contrib/systemd && \
	$(agora_unit_edit) $(srcdir)/$@.in >$@.tmp && mv $@.tmp $@

nvmfdir = $(docdir)/examples
dist_nvmf_SCRIPTS = contrib/agora-nvmf-export.sh contrib/agora-nvmf-connect.sh
