// Package demo runs the whole constellation on one machine: a sample
// upstream served by rsync, the embedded MQTT broker and an announcer, a
// watchtower, and three nodes, then publishes an update and shows it
// flowing through.
package demo

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildDebianRepo builds a small apt repository in dir (suite "stable",
// component "main", amd64) with one package per name at version, made
// with dpkg-deb and indexed with apt-ftparchive, as a real archive is.
func BuildDebianRepo(dir, version string, names ...string) error {
	work, err := os.MkdirTemp("", "mm-deb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	for _, name := range names {
		pkg := filepath.Join(work, name)
		os.MkdirAll(filepath.Join(pkg, "DEBIAN"), 0o755)
		os.MkdirAll(filepath.Join(pkg, "usr/share/doc", name), 0o755)
		os.WriteFile(filepath.Join(pkg, "usr/share/doc", name, "README"), []byte(strings.Repeat(name+" "+version+" ", 2000)), 0o644)
		control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: micromirror demo <demo@example.net>\nDescription: demo package %s\n", name, version, name)
		os.WriteFile(filepath.Join(pkg, "DEBIAN/control"), []byte(control), 0o644)
		deb := filepath.Join(dir, "pool/main", name[:1], name, fmt.Sprintf("%s_%s_amd64.deb", name, version))
		os.MkdirAll(filepath.Dir(deb), 0o755)
		if out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Zgzip", "--build", pkg, deb).CombinedOutput(); err != nil {
			return fmt.Errorf("dpkg-deb: %v: %s", err, out)
		}
	}
	return IndexDebianRepo(dir)
}

// IndexDebianRepo (re)writes Packages, Packages.gz and Release for the
// pool in dir.
func IndexDebianRepo(dir string) error {
	bin := filepath.Join(dir, "dists/stable/main/binary-amd64")
	os.MkdirAll(bin, 0o755)
	cmd := exec.Command("apt-ftparchive", "packages", "pool")
	cmd.Dir = dir
	pk, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("apt-ftparchive packages: %w", err)
	}
	if err := os.WriteFile(filepath.Join(bin, "Packages"), pk, 0o644); err != nil {
		return err
	}
	if out, err := exec.Command("sh", "-c", fmt.Sprintf("gzip -9nc '%s/Packages' > '%s/Packages.gz'", bin, bin)).CombinedOutput(); err != nil {
		return fmt.Errorf("gzip: %v: %s", err, out)
	}
	rel := exec.Command("apt-ftparchive",
		"-o", "APT::FTPArchive::Release::Suite=stable", "-o", "APT::FTPArchive::Release::Codename=stable",
		"-o", "APT::FTPArchive::Release::Components=main", "-o", "APT::FTPArchive::Release::Architectures=amd64",
		"release", "dists/stable")
	rel.Dir = dir
	out, err := rel.Output()
	if err != nil {
		return fmt.Errorf("apt-ftparchive release: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "dists/stable/Release"), out, 0o644)
}

// BuildReleaseTree writes an image file and its SHA256SUMS under
// dir/<version>/, like a distribution's release directory.
func BuildReleaseTree(dir, version string, size int) error {
	d := filepath.Join(dir, version)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	img := make([]byte, size)
	rand.Read(img)
	name := fmt.Sprintf("demo-%s-amd64.iso", version)
	if err := os.WriteFile(filepath.Join(d, name), img, 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(img)
	return os.WriteFile(filepath.Join(d, "SHA256SUMS"), []byte(fmt.Sprintf("%x  %s\n", sum, name)), 0o644)
}
