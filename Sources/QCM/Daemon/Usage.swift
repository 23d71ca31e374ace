import Base

/// `qcm --help`: every option, as README's "Options" table describes them.
extension Options {
    static let usage = """
        Usage: qcm [options]
          -s, --apn APN [USER PASSWORD [AUTH]]
                                 APN, user, password and authentication for the data call
                                 (AUTH: 0/none, 1/pap, 2/chap, 3/both (quectel-CM: MsChapV2));
                                 a password without AUTH means CHAP, as in quectel-CM; in MBIM
                                 mode (cdc_mbim, /dev/mhi_MBIM) the APN is required, as there too
              --user USER, --password PASSWORD, --auth AUTH   the same, one at a time
          -p, --pin PIN          verify the SIM PIN (4-8 digits) if the SIM asks for it
          -p qmi-proxy, --proxy  talk to the modem through libqmi's qmi-proxy
          -p mbim-proxy          talk to an MBIM modem through libmbim's mbim-proxy
          -p quectel-qmi-proxy   ... through Quectel's quectel-qmi-proxy (@quectel-qmi-proxyN,
                                 N the QMI device's last character: /dev/cdc-wdm0 → 0)
          -p quectel-mbim-proxy  ... through Quectel's quectel-mbim-proxy (@quectel-mbim-proxy)
          -p quectel-atc-proxy   an AT module through Quectel's quectel-atc-proxy
                                 (@quectel-atc-proxyN, N the AT port's last character)
          -f, --log-file FILE    append the log to FILE as well
          -u, --usbmon FILE      copy the modem's USB traffic (debugfs usbmon) into FILE
          -i, --interface IFACE  the modem owning network interface IFACE (several modems)
              --device PATH      the modem with QMI/MBIM channel PATH (/dev/cdc-wdm0, /dev/wwan0qmi0,
                                 /dev/wwan0mbim0, /dev/mhi_MBIM, a socket file)
          -4, --ipv4             IPv4 data call (the default)
          -6, --ipv6             IPv6 data call; -4 -6 together: dual stack
          -n, --pdn N            profile (PDN) index to dial (default 1); repeat -n for several PDNs
                                 in one qcm: each -n starts the options of its PDN (-s, --user,
                                 --password, --auth, -4, -6, -m, --default-route, --ipv6-lan, -b, -a, -y)
          -m, --mux N            QMAP mux 0x80+N for this PDN (qmi_wwan_q wwan0_N, qmimux, rmnet);
                                 MBIM on the upstream WWAN subsystem: session N on a wwan link;
                                 MBIM on pcie_mhi: the child rmnet_mhi0.N and its session
          -b, --bridge           bridge mode: the PDN's IPv4 address goes to one LAN host through
                                 the driver (qmi_wwan_q, GobiNet, pcie_mhi); the netdev gets none
          -a, --bring-up 1|2     bring the call up by APN name (1: needs -s APN) or by APN type
                                 (2: needs -y 1 or 2), as quectel-CM -a
          -y, --apn-type TYPE    the APN type: 0 unspecified, 1 internet, 2 ims
              --default-route, --no-default-route
                                 whether this PDN gets the default route and DNS (default: the
                                 first PDN does, unless its APN is "ims")
              --ipv6-lan IFACE   extend this PDN's IPv6 /64 to the LAN on IFACE (RFC 7278): the /64
                                 routed there, qcm's router advertisements on it (needs -6)
              --ipv6-lan-ra on|off  off: another daemon advertises on IFACE; qcm only routes
              --data-path MODE   auto | raw-ip | qmap | qmimux | rmnet (default auto: what the
                                 driver offers, QMAP only where it is needed)
          -k, --kill N           stop the running qcm that serves PDN N, then exit
          -v, --verbose          log every QMI frame: hex, quectel-CM decoded line, named TLVs
          -d, --no-dhcp          take the address from QMI even on an 802.3 link (no DHCP)
              --script PATH      run a udhcpc-style script (scripts/default.script) instead of
                                 configuring the link itself
              --dns MODE         auto | resolvconf | file | none (default auto; none with --simulate)
              --resolv-conf FILE the resolv.conf to manage (default /etc/resolv.conf)
              --metric N         metric of the default routes qcm adds (default 0)
              --max-retries N    give up (exit 6) after N failed dials in a row (default: never)
              --stable-after SEC a call that stayed up SEC seconds resets the redial backoff
                                 (default 30; after a drop qcm redials at once, then backs off
                                 1, 2, 4 ... 60 s)
              --no-link          leave the network interface alone (dial only)
              --run-dir DIR      lock, pid and status files (default /run/qcm)
              --pid-file FILE    pid file (default RUNDIR/qcm-pdnN.pid)
              --sysfs-root DIR   read DIR instead of /sys when looking for the modem
              --dev-root DIR     look for device nodes in DIR instead of /dev
              --simulate         dial the built-in simulator (qmi-sim) instead of a modem
              --sim-arg ARG      pass ARG to the simulator (repeatable), e.g. --sim-arg --roaming
          -h, --help             this text
          -V, --version          the version
        Commands:
          qcm list [--json]      the modems found (see qcm list --help)
          qcm status [--json]    state of the running instances
          qcm decode [FILE...]   decode QMI frames from logs or hex dumps
          qcm dhcp -i IFACE      run the DHCP client alone (see qcm dhcp --help)
        Exit status: 0 stopped cleanly, 1 internal error, 2 usage, 3 no modem, 4 SIM problem,
        5 modem not responding, 6 dialing gave up (--max-retries), 7 another instance holds
        the modem, 8 link configuration failed, 9 insufficient privileges or unsafe run directory.
        """
}
