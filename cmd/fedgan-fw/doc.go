// Command fedgan-fw gets a device agent from this repository onto a
// board: it cross-compiles fedgan-agent, provisions each device's
// identity, bundles agent, configuration and credentials per device, and
// flashes a bundle over SSH. See package firmwaretools.
//
//	fedgan-fw build -o bin/firmware
//	fedgan-fw provision -c deploy.yaml -o provisioned
//	fedgan-fw bundle -p provisioned -b bin/firmware --inventory boards.yaml -o bundles
//	fedgan-fw flash --bundle bundles/fedgan-c1-d1-armv7.tar.gz --host pi@10.0.0.21
package main
