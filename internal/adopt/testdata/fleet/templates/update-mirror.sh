#!/bin/bash
# Test fleet: pulls the hosted projects from the upstream, all of them or
# the one an MQTT announcement names ($1 is the topic).

UPSTREAM="mirror.example.org"
RSYNC_ARGS=(-avSH '--filter=R .~tmp~' --delete-delay --fuzzy --delay-updates --bwlimit=25M --timeout=600)

PROJECT=""
if [[ -z $1 ]] || [[ $1 = "all" ]]; then
	PROJECT="all"
{% if "almalinux" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/almalinux" ]]; then
	PROJECT="almalinux"
{% endif %}
{% if "archlinux" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/archlinux" ]]; then
	PROJECT="archlinux"
{% endif %}
{% if "cvebin" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/cvebin" ]]; then
	PROJECT="cvebin"
{% endif %}
{% if "epel" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/fedora" ]]; then
	PROJECT="fedora"
{% endif %}
{% if "epel-amd64" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/fedora" ]]; then
	PROJECT="fedora"
{% endif %}
{% if "fdroid-repo" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/fdroid" ]]; then
	PROJECT="fdroid"
{% endif %}
{% if "fedora" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/fedora" ]]; then
	PROJECT="fedora"
{% endif %}
{% if "fedora-amd64" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/fedora" ]]; then
	PROJECT="fedora"
{% endif %}
{% if "gimp" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/gimp" ]]; then
	PROJECT="gimp"
{% endif %}
{% if "kali-images" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/kali-images" ]]; then
	PROJECT="kali-images"
{% endif %}
{% if "kdeftp-stable" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/kde" ]]; then
	PROJECT="kdeftp"
{% endif %}
{% if "linuxmint-images" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/linuxmint-images" ]]; then
	PROJECT="linuxmint-images"
{% endif %}
{% if "manjaro" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/manjaro" ]]; then
	PROJECT="manjaro"
{% endif %}
{% if "opensuse" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/opensuse" ]]; then
	PROJECT="opensuse"
{% endif %}
{% if "raspbian" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/raspbian" ]]; then
	PROJECT="raspbian"
{% endif %}
{% if "rpmfusion-nonfree" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/rpmfusion" ]]; then
	PROJECT="rpmfusion"
{% endif %}
{% if "tdf" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/tdf" ]]; then
	PROJECT="tdf"
{% endif %}
{% if "ubuntu" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/ubuntu" ]]; then
	PROJECT="ubuntu"
{% endif %}
{% if "ubuntu-releases" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/ubuntu-releases" ]]; then
	PROJECT="ubuntu-releases"
{% endif %}
{% if "videolan" in hostedprojects %}
elif [[ $1 = "rsync/$UPSTREAM/videolan" ]]; then
	PROJECT="videolan"
{% endif %}
else
	exit 1
fi

{% if "almalinux" in hostedprojects %}
sync_almalinux() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/almalinux/ /data/mirror/almalinux/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "almalinux" ]]; then
	sync_almalinux
fi
{% endif %}
{% if "archlinux" in hostedprojects %}
sync_archlinux() {
	rsync -avSH --delete-delay --fuzzy --delay-updates --bwlimit=10M --timeout=600 rsync://$UPSTREAM/archlinux/ /data/mirror/archlinux/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "archlinux" ]]; then
	sync_archlinux
fi
{% endif %}
{% if "cvebin" in hostedprojects %}
sync_cvebin() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/cvebin/ /data/mirror/cvebin/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "cvebin" ]]; then
	sync_cvebin
fi
{% endif %}
{% if "epel" in hostedprojects %}
sync_epel() {
	rsync -avSH --fuzzy --delete-delay --delay-updates --exclude '**/source/**' --exclude '**/s390x/**' --exclude '**/playground/**' --exclude '**/debug/**' --delete-excluded --bwlimit=25M --timeout=600 rsync://$UPSTREAM/fedora-epel/ /data/mirror/epel/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "fedora" ]]; then
	sync_epel
fi
{% endif %}
{% if "epel-amd64" in hostedprojects %}
sync_epel_amd64() {
	rsync -avSH --fuzzy --delete-delay --delay-updates --exclude '**/source/**' --exclude '**/armhfp/**' --exclude '**/aarch64/**' --exclude '**/ppc64/**' --exclude '**/ppc64le/**' --exclude '**/s390x/**' --exclude '**/testing/**' --exclude '**/playground/**' --exclude '**/next/**' --exclude '**/debug/**' --delete-excluded --bwlimit=25M --timeout=600 rsync://$UPSTREAM/fedora-epel/ /data/mirror/epel/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "fedora" ]]; then
	sync_epel_amd64
fi
{% endif %}
{% if "fdroid-repo" in hostedprojects %}
sync_fdroid_repo() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/fdroid/repo/ /data/mirror/fdroid/repo/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "fdroid" ]]; then
	sync_fdroid_repo
fi
{% endif %}
{% if "fedora" in hostedprojects %}
sync_fedora() {
	rsync -avSH --fuzzy --delete-delay --delay-updates --exclude '**/source/**' --exclude '**/debug/**' --delete-excluded --bwlimit=25M --timeout=600 rsync://$UPSTREAM/fedora-enchilada0/ /data/mirror/fedora/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "fedora" ]]; then
	sync_fedora
fi
{% endif %}
{% if "fedora-amd64" in hostedprojects %}
sync_fedora_amd64() {
	rsync -avSH --fuzzy --delete-delay --delay-updates --exclude '**/source/**' --exclude '**/armhfp/**' --exclude '**/aarch64/**' --exclude '**/debug/**' --exclude '**/test/**' --exclude '**/testing/**' --exclude '**/Spins/**' --exclude '**/Kinoite/**' --exclude '**/Sericea/**' --exclude '**/Silverblue/**' --delete-excluded --bwlimit=25M --timeout=600 rsync://$UPSTREAM/fedora-enchilada0/ /data/mirror/fedora/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "fedora" ]]; then
	sync_fedora_amd64
fi
{% endif %}
{% if "gimp" in hostedprojects %}
sync_gimp() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/gimp/ /data/mirror/gimp/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "gimp" ]]; then
	sync_gimp
fi
{% endif %}
{% if "kali-images" in hostedprojects %}
sync_kali_images() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/kali-images/ /data/mirror/kali-images/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "kali-images" ]]; then
	sync_kali_images
fi
{% endif %}
{% if "kdeftp-stable" in hostedprojects %}
sync_kdeftp_stable() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/kdeftp/last-updated /data/mirror/kdeftp/last-updated
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/kdeftp/stable/ /data/mirror/kdeftp/stable/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "kdeftp" ]]; then
	sync_kdeftp_stable
fi
{% endif %}
{% if "linuxmint-images" in hostedprojects %}
sync_linuxmint_images() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/linuxmint-images/ /data/mirror/linuxmint-images/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "linuxmint-images" ]]; then
	sync_linuxmint_images
fi
{% endif %}
{% if "manjaro" in hostedprojects %}
sync_manjaro() {
	rsync -avSH --delete-delay --fuzzy --delay-updates --bwlimit=10M --timeout=600 rsync://$UPSTREAM/manjaro/ /data/mirror/manjaro/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "manjaro" ]]; then
	sync_manjaro
fi
{% endif %}
{% if "opensuse" in hostedprojects %}
sync_opensuse() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/opensuse/tumbleweed/ /data/mirror/opensuse/tumbleweed/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "opensuse" ]]; then
	sync_opensuse
fi
{% endif %}
{% if "raspbian" in hostedprojects %}
sync_raspbian() {
	rsync -rtlH --safe-links --fuzzy --exclude 'Packages*' --exclude 'Sources*' --exclude 'Release*' --exclude 'InRelease' --bwlimit=25M --timeout=600 rsync://$UPSTREAM/raspbian/ /data/mirror/raspbian/
	rsync -rtlH --safe-links --delete --delete-after --bwlimit=25M --timeout=600 rsync://$UPSTREAM/raspbian/ /data/mirror/raspbian/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "raspbian" ]]; then
	sync_raspbian
fi
{% endif %}
{% if "rpmfusion-nonfree" in hostedprojects %}
sync_rpmfusion_nonfree() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/rpmfusion/nonfree/ /data/mirror/rpmfusion/nonfree/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "rpmfusion" ]]; then
	sync_rpmfusion_nonfree
fi
{% endif %}
{% if "tdf" in hostedprojects %}
sync_tdf() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/tdf-pub/ /data/mirror/tdf/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "tdf" ]]; then
	sync_tdf
fi
{% endif %}
{% if "ubuntu" in hostedprojects %}
sync_ubuntu() {
	rsync -rtlH --safe-links --exclude 'Packages*' --exclude 'Sources*' --exclude 'Release*' --exclude 'InRelease' --bwlimit=25M rsync://$UPSTREAM/ubuntu/ /data/mirror/ubuntu/
	rsync -rtlH --safe-links --delete --delete-after --bwlimit=25M rsync://$UPSTREAM/ubuntu/ /data/mirror/ubuntu/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "ubuntu" ]]; then
	sync_ubuntu
fi
{% endif %}
{% if "ubuntu-releases" in hostedprojects %}
sync_ubuntu_releases() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/ubuntu-releases/ /data/mirror/ubuntu-releases/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "ubuntu-releases" ]]; then
	sync_ubuntu_releases
fi
{% endif %}
{% if "videolan" in hostedprojects %}
sync_videolan() {
	rsync "${RSYNC_ARGS[@]}" rsync://$UPSTREAM/videolan-ftp/ /data/mirror/videolan-ftp/
}
if [[ $PROJECT = "all" ]] || [[ $PROJECT = "videolan" ]]; then
	sync_videolan
fi
{% endif %}
