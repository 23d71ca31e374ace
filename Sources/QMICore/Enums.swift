// Value names of the QMI enumerations qcm prints. Numeric values are protocol facts
// (cross-checked against libqmi's public enum definitions); names follow qmicli's
// lower-case style so logs read the same in both tools.
import Base

public enum QMIEnums {
    /// Every table: "name: value=name ..." or "name (flags): ..." on a line that starts in
    /// column 0, continued on indented lines. Constant text in the binary, read on lookup.
    static let text: StaticString = """
        resultStatus: 0=success 1=failure
        protocolError:
          0=None 1=MalformedMessage 2=NoMemory 3=Internal 4=Aborted
          5=ClientIdsExhausted 6=UnabortableTransaction 7=InvalidClientId
          8=NoThresholdsProvided 9=InvalidHandle 10=InvalidProfile 11=InvalidPinId
          12=IncorrectPin 13=NoNetworkFound 14=CallFailed 15=OutOfCall 16=NotProvisioned
          17=MissingArgument 19=ArgumentTooLong 22=InvalidTransactionId 23=DeviceInUse
          24=NetworkUnsupported 25=DeviceUnsupported 26=NoEffect 27=NoFreeProfile
          28=InvalidPdpType 29=InvalidTechnologyPreference 30=InvalidProfileType
          31=InvalidServiceType 32=InvalidRegisterAction 33=InvalidPsAttachAction
          34=AuthenticationFailed 35=PinBlocked 36=PinAlwaysBlocked 37=UimUninitialized
          38=MaximumQosRequestsInUse 39=IncorrectFlowFilter 40=NetworkQosUnaware
          41=InvalidQosId 42=RequestedNumberUnsupported 43=InterfaceNotFound 44=FlowSuspended
          45=InvalidDataFormat 46=GeneralError 47=UnknownError 48=InvalidArgument
          49=InvalidIndex 50=NoEntry 51=DeviceStorageFull 52=DeviceNotReady
          53=NetworkNotReady 54=WmsCauseCode 55=WmsMessageNotSent 56=WmsMessageDeliveryFailure
          57=WmsInvalidMessageId 58=WmsEncoding 59=AuthenticationLock 60=InvalidTransition
          61=NotMcastInterface 62=MaximumMcastRequestsInUse 63=InvalidMcastHandle
          64=InvalidIpFamilyPreference 65=SessionInactive 66=SessionInvalid 67=SessionOwnership
          68=InsufficientResources 69=Disabled 70=InvalidOperation 71=InvalidQmiCommand
          72=WmsTPduType 73=WmsSmscAddress 74=InformationUnavailable 75=SegmentTooLong
          76=SegmentOrder 77=BundlingNotSupported 78=OperationPartialFailure 79=PolicyMismatch
          80=SimFileNotFound 81=ExtendedInternal 82=AccessDenied 83=HardwareRestricted
          84=AckNotSent 85=InjectTimeout 90=IncompatibleState 91=FdnRestrict
          92=SupsFailureCase 93=NoRadio 94=NotSupported 95=NoSubscription
          96=CardCallControlFailed 97=NetworkAborted 98=MsgBlocked 100=InvalidSessionType
          101=InvalidPbType 102=NoSim 103=PbNotReady 104=PinRestriction
          105=Pin1Restriction 106=PukRestriction 107=Puk2Restriction 108=PbAccessRestricted
          109=PbDeleteInProgress 110=PbTextTooLong 111=PbNumberTooLong
          112=PbHiddenKeyRestriction 113=PbNotAvailable 114=DeviceMemoryError 115=NoPermission
          116=TooSoon 117=TimeNotAcquired 118=OperationInProgress 388=FwWriteFailed
          389=FwInfoReadFailed 390=FwFileNotFound 391=FwDirNotFound 392=FwAlreadyActivated
          393=FwCannotGenericImage 400=FwFileOpenFailed 401=FwUpdateDiscontinuousFrame
          402=FwUpdateFailed 61441=CatEventRegistrationFailed 61442=CatInvalidTerminalResponse
          61443=CatInvalidEnvelopeCommand 61444=CatEnvelopeCommandBusy 61445=CatEnvelopeCommandFailed
        ctlDataFormat: 0=qos-flow-header-absent 1=qos-flow-header-present
        ctlLinkProtocol: 1=802-3 2=raw-ip
        service:
          -1=unknown 0=ctl 1=wds 2=dms 3=nas 4=qos 5=wms 6=pds
          7=auth 8=at 9=voice 10=cat2 11=uim 12=pbm 13=qchat 14=rmtfs
          15=test 16=loc 17=sar 18=ims 19=adc 20=csd 21=mfs 22=time
          23=ts 24=tmd 25=sap 26=wda 27=tsync 28=rfsa 29=csvt 30=qcmap
          31=imsp 32=imsvt 33=imsa 34=coex 36=pdc 38=stx 39=bit
          40=imsrtp 41=rfrpe 42=dsd 43=ssctl 47=dpm 50=uim-rmt 71=uim-http
          224=cat 225=rms 226=oma 227=fox 230=fota 231=gms 232=gas
          237=atr 400=ssc 770=imsdcm
        wdsIpFamily: 0=unknown 4=ipv4 6=ipv6 8=unspecified 12=ethernet
        wdsAuthentication (flags): 0=none 1=pap 2=chap
        wdsPdpType: 0=ipv4 1=ppp 2=ipv6 3=ipv4-or-ipv6 4=non-ip
        wdsProfileType: 0=3gpp 1=3gpp2 2=epc 255=all
        wdsConnectionStatus: 0=unknown 1=disconnected 2=connected 3=suspended 4=authenticating
        wdsCallEndReason:
          1=generic-unspecified 2=generic-client-end 3=generic-no-service 4=generic-fade
          5=generic-release-normal 6=generic-access-attempt-in-progress 7=generic-access-failure
          8=generic-redirection-or-handoff 9=generic-close-in-progress
          10=generic-authentication-failed 11=generic-internal-error 500=cdma-lock
          501=cdma-intercept 502=cdma-reorder 503=cdma-release-so-reject 504=cdma-incoming-call
          505=cdma-alert-stop 506=cdma-activation 507=cdma-max-access-probes
          508=cdma-ccs-not-supported-by-bs 509=cdma-no-response-from-bs 510=cdma-rejected-by-bs
          511=cdma-incompatible 512=cdma-already-in-tc 513=cdma-user-call-originated-during-gps
          514=cdma-user-call-originated-during-sms 515=cdma-no-service
          1000=gsm-wcdma-conference-failed 1001=gsm-wcdma-incoming-rejected 1002=gsm-wcdma-no-service
          1003=gsm-wcdma-network-end 1004=gsm-wcdma-llc-sndcp-failure
          1005=gsm-wcdma-insufficient-resources 1006=gsm-wcdma-option-temporarily-out-of-order
          1007=gsm-wcdma-nsapi-already-used 1008=gsm-wcdma-regular-deactivation
          1009=gsm-wcdma-network-failure 1010=gsm-wcdma-reattach-required
          1011=gsm-wcdma-protocol-error 1012=gsm-wcdma-operator-determined-barring
          1013=gsm-wcdma-unknown-apn 1014=gsm-wcdma-unknown-pdp 1015=gsm-wcdma-ggsn-reject
          1016=gsm-wcdma-activation-reject 1017=gsm-wcdma-option-not-supported
          1018=gsm-wcdma-option-unsubscribed 1019=gsm-wcdma-qos-not-accepted
          1020=gsm-wcdma-tft-semantic-error 1021=gsm-wcdma-tft-syntax-error
          1022=gsm-wcdma-unknown-pdp-context 1023=gsm-wcdma-filter-semantic-error
          1024=gsm-wcdma-filter-syntax-error 1025=gsm-wcdma-pdp-without-active-tft
          1026=gsm-wcdma-invalid-transaction-id 1027=gsm-wcdma-message-incorrect-semantic
          1028=gsm-wcdma-invalid-mandatory-info 1029=gsm-wcdma-message-type-unsupported
          1030=gsm-wcdma-message-type-noncompatible-state 1031=gsm-wcdma-unknown-info-element
          1032=gsm-wcdma-conditional-ie-error 1033=gsm-wcdma-message-and-protocol-state-uncompatible
          1034=gsm-wcdma-apn-type-conflict 1035=gsm-wcdma-no-gprs-context
          1036=gsm-wcdma-feature-not-supported 1500=evdo-connection-deny-general-or-busy
          1501=evdo-connection-deny-billing-or-authentication-failure 1502=evdo-hdr-change
          1503=evdo-hdr-exit 1504=evdo-hdr-no-session 1505=evdo-hdr-origination-during-gps-fix
          1506=evdo-hdr-connection-setup-timeout 1507=evdo-hdr-released-by-cm
        wdsVerboseType: 1=mip 2=internal 3=cm 6=3gpp 7=ppp 8=ehrpd 9=ipv6
        wdsVerboseMip:
          -1=error-reason-unknown 64=fa-error-reason-unspecified
          65=fa-error-administratively-prohibited 66=fa-error-insufficient-resources
          67=fa-error-mobile-node-authentication-failure 68=fa-error-ha-authentication-failure
          69=fa-error-requested-lifetime-too-long 70=fa-error-malformed-request
          71=fa-error-malformed-reply 72=fa-error-encapsulation-unavailable
          73=fa-error-vjhc-unavailable 74=fa-error-reverse-tunnel-unavailable
          75=fa-error-reverse-tunnel-mandatory-and-t-bit-not-set 79=fa-error-delivery-style-not-supported
          97=fa-error-missing-nai 98=fa-error-missing-ha 99=fa-error-missing-home-address
          104=fa-error-unknown-challenge 105=fa-error-missing-challenge 106=fa-error-stale-challenge
          128=ha-error-reason-unspecified 129=ha-error-administratively-prohibited
          130=ha-error-insufficient-resources 131=ha-error-mobile-node-authentication-failure
          132=ha-error-fa-authentication-failure 133=ha-error-registration-id-mismatch
          134=ha-error-malformed-request 136=ha-error-unknown-ha-address
          137=ha-error-reverse-tunnel-unavailable 138=ha-error-reverse-tunnel-mandatory-and-t-bit-not-set
          139=ha-error-encapsulation-unavailable
        wdsVerboseInternal:
          201=error 202=call-ended 203=unknown-internal-cause 204=unknown-cause
          205=close-in-progress 206=network-initiated-termination 207=app-preempted
          208=pdn-ipv4-call-disallowed 209=pdn-ipv4-call-throttled 210=pdn-ipv6-call-disallowed
          211=pdn-ipv6-call-throttled 212=modem-restart 213=pdp-ppp-not-supported
          214=unpreferred-rat 215=physical-link-close-in-progress 216=apn-pending-handover
          217=profile-bearer-incompatible 218=mmgdsi-card-event 219=lpm-or-power-down
          220=apn-disabled 221=mpit-expired 222=ipv6-address-transfer-failed
          223=trat-swap-failed 224=ehrpd-to-hrpd-fallback 225=mandatory-apn-disabled
          226=mip-config-failure 227=pdn-inactivity-timer-expired 228=max-v4-connections
          229=max-v6-connections 230=apn-mismatch 231=ip-version-mismatch
          232=dun-call-disallowed 233=invalid-profile 234=epc-nonepc-transition
          235=invalid-profile-id 236=call-already-present 237=interface-in-use
          238=ip-pdp-mismatch 239=apn-disallowed-on-roaming 240=apn-parameter-change
          241=interface-in-use-config-match 242=null-apn-disallowed 243=thermal-mitigation
          244=subs-id-mismatch 245=data-settings-disabled 246=data-roaming-settings-disabled
          247=apn-format-invalid 248=dds-call-abort 249=validation-failure
          251=profiles-not-compatible 252=null-resolved-apn-no-match 253=invalid-apn-name
          254=dds-switch-in-progress 255=call-disallowed-in-roaming 256=mo-exceptional-not-supported
          257=non-ip-not-supported 258=error-pdn-non-ip-call-throttled
          259=error-pdn-non-ip-call-disallowed 261=error-non-ip-type-mismatch
          262=error-max-nb-pdn-reached 263=invalid-apn 264=slice-not-allowed 265=routing-fail
          266=routing-changed 267=local-area-data-network-data-network-name-not-available
          268=apn-type-mismatch
        wdsVerboseCm:
          500=cdma-lock 501=intercept 502=reorder 503=release-so-reject 504=incoming-call
          505=alert-stop 506=activation 507=max-access-probes 508=ccs-not-supported-by-bs
          509=no-response-from-bs 510=rejected-by-bs 511=incompatible 512=already-in-tc
          513=user-call-originated-during-gps 514=user-call-originated-during-sms 515=no-cdma-service
          516=mc-abort 517=psist-ng 518=uim-not-present 519=retry-order 520=access-block
          521=access-block-all 522=is707b-max-access-probes 523=thermal-emergency
          524=call-origination-throttled 525=user-call-originated 1000=conference-failed
          1001=incoming-rejected 1002=no-gateway-service 1003=no-gprs-context 1004=illegal-ms
          1005=illegal-me 1006=gprs-and-non-gprs-services-not-allowed 1007=gprs-services-not-allowed
          1008=ms-identity-not-derived-by-the-network 1009=implicitly-detached 1010=plmn-not-allowed
          1011=la-not-allowed 1012=gprs-services-not-allowed-in-plmn 1013=pdp-duplicate
          1014=ue-rat-change 1015=congestion 1016=no-pdp-context-activated
          1017=access-class-dsac-rejection 1018=pdp-activate-max-retry-failed 1019=rab-failure
          1020=eps-service-not-allowed 1021=tracking-area-not-allowed
          1022=roaming-not-allowed-in-tracking-area 1023=no-suitable-cells-in-tracking-area
          1024=not-authorized-closed-subscriber-group 1025=esm-unknown-eps-bearer-context
          1026=drb-released-at-rrc 1027=nas-signal-connection-released 1028=emm-detached
          1029=emm-attach-failed 1030=emm-attach-started 1031=lte-nas-service-request-failed
          1032=esm-active-dedicated-bearer-reactivated-by-nw 1033=esm-lower-layer-failure
          1034=esm-sync-up-with-nw 1035=esm-nw-activated-dedicated-bearer-with-id-of-default-bearer
          1036=esm-bad-ota-message 1037=esm-ds-rejected-call 1038=esm-context-transferred-due-to-irat
          1039=ds-explicit-deact 1040=esm-local-cause-none
          1041=lte-nas-service-request-failed-no-throttle 1042=acl-failure
          1043=lte-nas-service-request-failed-ds-disallow 1044=emm-t3417-expired
          1045=emm-t3417-ext-expired 1046=lrrc-ul-data-confirmation-failure-txn
          1047=lrrc-ul-data-confirmation-failure-handover 1048=lrrc-ul-data-confirmation-failure-conn-rel
          1049=lrrc-ul-data-confirmation-failure-rlf 1050=lrrc-ul-data-confirmation-failure-ctrl-not-conn
          1051=lrrc-connection-establishment-failure 1052=lrrc-connection-establishment-failure-aborted
          1053=lrrc-connection-establishment-failure-access-barred
          1054=lrrc-connection-establishment-failure-cell-reselection
          1055=lrrc-connection-establishment-failure-config-failure
          1056=lrrc-connection-establishment-failure-timer-expired
          1057=lrrc-connection-establishment-failure-link-failure
          1058=lrrc-connection-establishment-failure-not-camped
          1059=lrrc-connection-establishment-failure-si-failure
          1060=lrrc-connection-establishment-failure-rejected 1061=lrrc-connection-release-normal
          1062=lrrc-connection-release-rlf 1063=lrrc-connection-release-cre-failure
          1064=lrrc-connection-release-oos-during-cre 1065=lrrc-connection-release-aborted
          1066=lrrc-connection-release-sib-read-error 1067=detach-with-reattach-lte-nw-detach
          1068=detach-without-reattach-lte-nw-detach 1069=esm-proc-timeout 1070=invalid-connection-id
          1071=invalid-nsapi 1072=invalid-pri-nsapi 1073=invalid-field
          1074=radio-access-bearer-setup-failure 1075=pdp-establish-max-timeout
          1076=pdp-modify-max-timeout 1077=pdp-inactive-max-timeout 1078=pdp-lowerlayer-error
          1079=ppd-unknown-reason 1080=pdp-modify-collision 1081=pdp-mbms-request-collision
          1082=mbms-duplicate 1083=sm-ps-detached 1084=sm-no-radio-available
          1085=sm-abort-service-not-available 1086=message-exceeds-max-l2-limit
          1087=sm-nas-service-request-failure 1088=rrc-connection-establishment-failure-request-error
          1089=rrc-connection-establishment-failure-tai-change
          1090=rrc-connection-establishment-failure-rf-unavailable
          1091=rrc-connection-release-aborted-inter-rat-success
          1092=rrc-connection-release-rlf-sec-not-active
          1093=rrc-connection-release-inter-rat-to-lte-aborted
          1094=rrc-connection-release-inter-rat-from-lte-to-geran-cco-success
          1095=rrc-connection-release-inter-rat-from-lte-to-geran-cco-aborted
          1096=imsi-unknown-in-home-subscriber-server 1097=imei-not-accepted
          1098=eps-services-and-non-eps-services-not-allowed 1099=eps-services-not-allowed-in-plmn
          1100=msc-temporarily-not-reachable 1101=cs-domain-not-available 1102=esm-failure
          1103=mac-failure 1104=synchronization-failure 1105=ue-security-capabilities-mismatch
          1106=security-mode-reject-unspecified 1107=non-eps-auth-unacceptable
          1108=cs-fallback-call-establishment-not-allowed 1109=no-eps-bearer-context-activated
          1110=emm-invalid-state 1111=nas-layer-failure 1112=multi-pdn-not-allowed
          1113=embms-not-enabled 1114=pending-redial-call-cleanup 1115=embms-regular-deactivation
          1116=tlb-regular-deactivation 1117=lower-layer-registration-failure
          1118=detach-eps-services-not-allowed 1119=sm-internal-pdp-deactivation
          1500=connection-deny-general-or-busy 1501=connection-deny-billing-or-authentication-failure
          1502=hdr-change 1503=hdr-exit 1504=hdr-no-session 1505=hdr-origination-during-gps-fix
          1506=hdr-connection-setup-timeout 1507=hdr-released-by-cm
          1508=hdr-collocated-acquisition-failed 1509=otasp-commit-in-progress
          1510=hdr-no-hybrid-service 1511=hdr-no-lock-granted 1512=hold-other-in-progress
          1513=hdr-fade 1514=hdr-access-failure 1515=unsupported-1x-prev 2000=client-end
          2001=no-service 2002=fade 2003=release-normal 2004=access-attempt-in-progress
          2005=access-failure 2006=redirection-or-handoff 2500=offline 2501=emergency-mode
          2502=phone-in-use 2503=invalid-mode 2504=invalid-sim-state 2505=no-collocated-hdr
          2506=call-control-rejected 2507=emm-detached-psm 2508=dual-switch 2509=call-manager
          2510=invalid-class3-apn 2511=mplmn-in-progress
        wdsVerbose3gpp:
          8=operator-determined-barring 25=llc-sndcp-failure 26=insufficient-resources
          27=unknown-apn 28=unknown-pdp 29=authentication-failed 30=ggsn-reject
          31=activation-reject 32=option-not-supported 33=option-unsubscribed
          34=option-temporarily-out-of-order 35=nsapi-already-used 36=regular-deactivation
          37=qos-not-accepted 38=network-failure 39=reattach-required 40=feature-not-supported
          41=tft-semantic-error 42=tft-syntax-error 43=unknown-pdp-context
          44=filter-semantic-error 45=filter-syntax-error 46=pdp-without-active-tft
          50=ipv4-only-allowed 51=ipv6-only-allowed 52=single-address-bearer-only
          53=esm-info-not-received 54=pdn-connection-does-not-exist
          55=multiple-connection-to-same-pdn-not-allowed 81=invalid-transaction-id
          95=message-incorrect-semantic 96=invalid-mandatory-info 97=message-type-unsupported
          98=message-type-noncompatible-state 99=unknown-info-element 100=conditional-ie-error
          101=message-and-protocol-state-uncompatible 111=protocol-error 112=apn-type-conflict
          113=invalid-proxy-call-session-control-function-address
          114=internal-call-preempted-by-high-priority-apn 115=emm-access-barred
          116=emergency-interface-only 117=interface-mismatch 118=companion-interface-in-use
          119=ip-address-mismatch 120=interface-and-policy-family-mismatch
          121=emm-access-barred-infinite-retry 122=authentication-failure-on-emergency-call
          123=invalid-dns-address 124=invalid-proxy-call-session-control-function-dns-address
          125=test-loopback-mode-a-or-b-enabled 126=emm-access-barred-eab
          127=call-preempted-by-emergency-apn 128=ue-init-detach-or-disconnect
        wdsVerbosePpp:
          -1=unknown 1=timeout 2=authentication-failure 3=option-mismatch 31=pap-failure
          32=chap-failure 33=close-in-progress
        wdsVerboseEhrpd:
          1=subscription-limited-to-ipv4 2=subscription-limited-to-ipv6 4=vsncp-timeout
          5=vsncp-failure 6=vsncp-3gpp2-general-error 7=vsncp-3gpp2-unauthenticated-apn
          8=vsncp-3gpp2-pdn-limit-exceeded 9=vsncp-3gpp2-no-pdn-gateway
          10=vsncp-3gpp2-pdn-gateway-unreachable 11=vsncp-3gpp2-pdn-gateway-rejected
          12=vsncp-3gpp2-insufficient-parameters 13=vsncp-3gpp2-resource-unavailable
          14=vsncp-3gpp2-administratively-prohibited 15=vsncp-3gpp2-pdn-id-in-use
          16=vsncp-3gpp2-subscription-limitation 17=vsncp-3gpp2-pdn-exists-for-this-apn
        wdsVerboseIpv6: 1=prefix-unavailable 2=hrpd-ipv6-disabled 3=disabled
        wdsDataBearerTechnology:
          -1=unknown 1=cdma20001x 2=1xevdo 3=gsm 4=umts 5=1xevdo-reva 6=edge
          7=hsdpa 8=hsupa 9=hsdpa-hsupda 10=lte 11=ehrpd 12=hsdpaplus
          13=hsdpaplus-hsupa 14=dchsdpaplus 15=dchsdpaplus-hsupa 16=hsdpaplus-plus-64qam
          17=hsdpaplus-plus-64qam-hsupa 18=tdscdma 19=tdscdma-hsdpa 20=tdscdma-hsupa
        wdsNetworkType: 0=unknown 1=3gpp2 2=3gpp
        wdsRequestedSettings (flags):
          0=none 1=profile-id 2=profile-name 4=pdp-type 8=apn-name 16=dns-address
          32=granted-qos 64=username 128=auth-protocol 256=ip-address 512=gateway-info
          1024=pcscf-address 2048=pcscf-server-address-list 4096=pcscf-domain-name-list
          8192=mtu 16384=domain-name-list 32768=ip-family 65536=imcn-flag
          131072=extended-technology 262144=operator-reserved-pco
        wdsProfileError:
          0=unknown 1=fail 2=invalid-handle 3=invalid-operation 4=invalid-profile-type
          5=invalid-profile-number 6=invalid-profile-id 7=invalid-argument
          8=registry-not-initialized 9=invalid-parameter-length 10=list-end
          11=invalid-subscription-id 12=invalid-profile-family 1001=3gpp-invalid-profile-family
          1002=3gpp-access-error 1003=3gpp-context-not-defined 1004=3gpp-valid-flag-not-set
          1005=3gpp-read-only-flag-set 1006=3gpp-out-of-profiles 1101=3gpp2-invalid-profile-id
        wdsExtendedTechnologyPreference: 32769=cdma 32772=umts 34944=epc 34946=embms 34952=modem-link-local
        wdsClientType: 1=tethered 255=undefined
        wdsCallType: 0=laptop 1=embedded
        wdsTechnologyPreference (flags): 1=allow-3gpp 2=allow-3gpp2
        wdsDormancyStatus: 0=unknown 1=traffic-channel-dormant 2=traffic-channel-active
        wdsDataCallStatus: 0=unknown 1=activated 2=terminated
        wdsPacketStatisticsMask (flags):
          1=tx-packets-ok 2=rx-packets-ok 4=tx-packets-error 8=rx-packets-error 16=tx-overflows
          32=rx-overflows 64=tx-bytes-ok 128=rx-bytes-ok 256=tx-packets-dropped
          512=rx-packets-dropped
        dataEndpointType:
          0=unknown 1=hsic 2=hsusb 3=pcie 4=embedded 5=bam-dmux 6=ethernet
          255=undefined
        nasRegistrationState:
          0=not-registered 1=registered 2=not-registered-searching 3=registration-denied
          4=unknown
        nasAttachState: 0=unknown 1=attached 2=detached
        nasNetworkType: 0=unknown 1=3gpp2 2=3gpp
        nasRadioInterface:
          -1=unknown 0=none 1=cdma-1x 2=cdma-1xevdo 3=amps 4=gsm 5=umts
          8=lte 9=td-scdma 12=5gnr 255=no-change
        nasRoamingIndicator: 0=on 1=off
        nasEvdoSinrLevel: 0=0 1=1 2=2 3=3 4=4 5=5 6=6 7=7 8=8
        nasActiveBand:
          0=bc-0 1=bc-1 2=bc-2 3=bc-3 4=bc-4 5=bc-5 6=bc-6 7=bc-7 8=bc-8 9=bc-9 10=bc-10 11=bc-11
          12=bc-12 13=bc-13 14=bc-14 15=bc-15 16=bc-16 17=bc-17 18=bc-18 19=bc-19 40=gsm-450
          41=gsm-480 42=gsm-750 43=gsm-850 44=gsm-900-extended 45=gsm-900-primary
          46=gsm-900-railways 47=gsm-dcs-1800 48=gsm-pcs-1900 80=wcdma-2100 81=wcdma-pcs-1900
          82=wcdma-dcs-1800 83=wcdma-1700-us 84=wcdma-850 85=wcdma-800 86=wcdma-2600
          87=wcdma-900 88=wcdma-1700-japan 90=wcdma-1500-japan 91=wcdma-850-japan 120=eutran-1
          121=eutran-2 122=eutran-3 123=eutran-4 124=eutran-5 125=eutran-6 126=eutran-7
          127=eutran-8 128=eutran-9 129=eutran-10 130=eutran-11 131=eutran-12 132=eutran-13
          133=eutran-14 134=eutran-17 135=eutran-33 136=eutran-34 137=eutran-35 138=eutran-36
          139=eutran-37 140=eutran-38 141=eutran-39 142=eutran-40 143=eutran-18 144=eutran-19
          145=eutran-20 146=eutran-21 147=eutran-24 148=eutran-25 149=eutran-41 150=eutran-42
          151=eutran-43 152=eutran-23 153=eutran-26 154=eutran-32 155=eutran-125
          156=eutran-126 157=eutran-127 158=eutran-28 159=eutran-29 160=eutran-30
          161=eutran-66 162=eutran-250 163=eutran-46 164=eutran-27 165=eutran-31 166=eutran-47
          167=eutran-48 168=eutran-71 200=tdscdma-a 201=tdscdma-b 202=tdscdma-c 203=tdscdma-d
          204=tdscdma-e 205=tdscdma-f 250=nr5g-1 251=nr5g-2 252=nr5g-3 253=nr5g-5 254=nr5g-7
          255=nr5g-8 256=nr5g-20 257=nr5g-28 258=nr5g-38 259=nr5g-41 260=nr5g-50 261=nr5g-51
          262=nr5g-66 263=nr5g-70 264=nr5g-71 265=nr5g-74 266=nr5g-75 267=nr5g-76 268=nr5g-77
          269=nr5g-78 270=nr5g-79 271=nr5g-80 272=nr5g-81 273=nr5g-82 274=nr5g-83 275=nr5g-84
          276=nr5g-85 277=nr5g-257 278=nr5g-258 279=nr5g-259 280=nr5g-260 281=nr5g-261
          282=nr5g-12 283=nr5g-25 284=nr5g-34 285=nr5g-39 286=nr5g-40 287=nr5g-65 288=nr5g-86
          289=nr5g-48 290=nr5g-14 291=nr5g-13 292=nr5g-18 293=nr5g-26 294=nr5g-30 295=nr5g-29
          296=nr5g-53 297=nr5g-46 298=nr5g-91 299=nr5g-92 300=nr5g-93 301=nr5g-94
        nasDLBandwidth:
          0=1-4 1=3 2=5 3=10 4=15 5=20 6=5gnr-5 7=5gnr-10 8=5gnr-15 9=5gnr-20 10=5gnr-25
          11=5gnr-30 12=5gnr-40 13=5gnr-50 14=5gnr-60 15=5gnr-80 16=5gnr-90 17=5gnr-100
          18=5gnr-200 19=5gnr-400 20=gsm-02 21=tdscdma-16 22=wcdma-5 23=wcdma-10 24=5gnr-70
          255=unknown
        nasDataCapability:
          0=none 1=gprs 2=edge 3=hsdpa 4=hsupa 5=wcdma 6=cdma
          7=evdo-rev-0 8=evdo-rev-a 9=gsm 10=evdo-rev-b 11=lte 12=hsdpa-plus
          13=dc-hsdpa-plus
        nasServiceStatus: 0=none 1=limited 2=available 3=limited-regional 4=power-save
        nasServiceDomain: 0=none 1=cs 2=ps 3=cs-ps 4=camped
        nasRoamingStatus:
          0=off 1=on 2=blink 3=out-of-neighborhood 4=out-of-building
          5=preferred-system 6=available-system 7=alliance-partner 8=premium-partner
          9=full-service 10=partial-service 11=banner-on 12=banner-off
        dmsPinId: 1=pin 2=pin2
        dmsPinStatus:
          0=not-initialized 1=enabled-not-verified 2=enabled-verified 3=disabled
          4=blocked 5=permanently-blocked 6=unblocked 7=changed
        dmsOperatingMode:
          0=online 1=low-power 2=factory-test 3=offline 4=reset 5=shutting-down
          6=persistent-low-power 7=mode-only-low-power 255=unknown
        uimSessionType:
          0=primary-gw-provisioning 1=primary-1x-provisioning 2=secondary-gw-provisioning
          3=secondary-1x-provisioning 4=nonprovisioning-slot-1 5=nonprovisioning-slot-2
          6=card-slot-1 7=card-slot-2 8=logical-channel-slot-1 9=logical-channel-slot-2
          10=tertiary-gw-provisioning 11=tertiary-1x-provisioning 12=quaternary-gw-provisioning
          13=quaternary-1x-provisioning 14=quinary-gw-provisioning 15=quinary-1x-provisioning
          16=nonprovisioning-slot-3 17=nonprovisioning-slot-4 18=nonprovisioning-slot-5
          19=card-slot-3 20=card-slot-4 21=card-slot-5 22=logical-channel-slot-3
          23=logical-channel-slot-4 24=logical-channel-slot-5
        uimPinId: 0=unknown 1=pin1 2=pin2 3=upin 4=hidden-key
        uimCardState: 0=absent 1=present 2=error
        uimPinState:
          0=not-initialized 1=enabled-not-verified 2=enabled-verified 3=disabled
          4=blocked 5=permanently-blocked
        uimCardError:
          0=unknown 1=power-down 2=poll 3=no-atr-received 4=voltage-mismatch
          5=parity 6=possibly-removed 7=technical
        uimApplicationType: 0=unknown 1=sim 2=usim 3=ruim 4=csim 5=isim
        uimApplicationState:
          0=unknown 1=detected 2=pin1-or-upin-pin-required 3=puk1-or-upin-puk-required
          4=check-personalization-state 5=pin1-blocked 6=illegal 7=ready
        wdaLinkLayerProtocol: 0=unknown 1=802-3 2=raw-ip 3=ethernet-pdu
        wdaAggregationProtocol:
          0=disabled 1=tlp 2=qc-ncm 3=mbim 4=rndis 5=qmap 6=qmapv2
          7=qmapv3 8=qmapv4 9=qmapv5
        nasSignalStrengthRequest (flags):
          0=none 1=rssi 2=ecio 4=io 8=sinr 16=error-rate 32=rsrq 64=lte-snr 128=lte-rsrp
        nasHdrPersonality: 0=unknown 1=hrpd 2=ehrpd
        nasHdrProtocolRevision: 0=none 1=rel-0 2=rel-a 3=rel-b
        nasCallBarringStatus: -1=unknown 0=normal-only 1=emergency-only 2=no-calls 3=all-calls
        nasNetworkNameSource:
          0=unknown 1=operator-plmn-list-and-plmn-network-name
          2=common-pcn-handset-specification-and-operator-name-string 3=nitz 4=se13 5=mcc-mnc
          6=service-provider-name
        nasNetworkDescriptionDisplay: 0=no 1=yes 255=unknown
        nasNetworkDescriptionEncoding: 0=unspecified 1=ascii7 4=unicode 9=gsm
        nasNetworkNameDisplayCondition (flags):
          1=registered-plmn-if-known-network 2=spn-not-required-if-unknown-network
        nasPlmnEncodingScheme: 0=gsm 1=ucs2le
        nasPlmnNameCountryInitials: 0=initials-do-not-add 1=iniitals-add 255=iniitals-unspecified
        nasPlmnNameSpareBits:
          0=unknown 1=bit-8 2=bits-78 3=bits-68 4=bits-58 5=bits-48 6=bits-38 7=bits-28
        nasPlmnLanguageId: 0=unknown 1=zh-trad 2=zh-simp
        nasBoolean: 0=false 1=true 2=unknown
        nasWcdmaHsService:
          0=hsdpa-hsupa-unsupported 1=hsdpa-supported 2=hsupa-supported 3=hsdpa-hsupa-supported
          4=hsdpa-plus-supported 5=hsdpa-plus-hsupa-supported 6=dc-hsdpa-plus-supported
          7=dc-hsdpa-plus-hsupa-supported
        nasCellBroadcastCapability: 0=unknown 1=off 2=on
        nasSimRejectState: 0=unavailable 1=available 2=cs-invalid 3=ps-invalid 4=cs-ps-invalid
        nasLteVoiceDomain: 0=none 1=ims 2=1x 3=3gpp
        nasNetworkSelectionRegistrationRestriction: 0=unrestricted 1=camped-only 2=limited
        nasLteRegistrationDomain: 0=not-applicable 1=cs-only 2=ps-only 3=cs-ps 4=limited-service
        nasLteCellAccessStatus: 0=normal-only 1=emergency-only 2=no-calls 3=all-calls 255=unknown
        nasWcdmaRrcState: 0=disconnected 1=cell-pch 2=ura-pch 3=cell-fach 4=cell-dch
        dmsUimState: 0=initialization-completed 1=locked-or-failed 2=not-present 3=reserved 255=unknown
        wdsTrafficClass: 0=subscribed 1=conversational 2=streaming 3=interactive 4=background
        wdsDeliveryOrder: 0=subscribe 1=on 2=off
        wdsSduErrorRatio: 0=subscribe 1=1e2 2=7e3 3=1e3 4=1e4 5=1e5 6=1e6 7=1e1
        wdsSduResidualBitErrorRatio: 0=subscribe 1=5e2 2=1e2 3=5e3 4=4e3 5=1e3 6=1e4 7=1e5 8=1e6 9=6e8
        wdsSduErroneousDelivery: 0=subscribe 1=no-detection 2=enabled 3=disabled
        wdsPdpHeaderCompressionType: 0=off 1=manufacturer-preferred 2=rfc1144 3=rfc2507 4=rfc3095
        wdsPdpDataCompressionType: 0=off 1=manufacturer-preferred 2=v42bis 3=v44
        wdsPdpAccessControl: 0=none 1=reject 2=permission
        wdsAddressAllocationPreference: 0=nas 1=dhcp
        wdsQosClassIdentifier:
          0=network-assign 1=guaranteed-bitrate1 2=guaranteed-bitrate2 3=guaranteed-bitrate3
          4=guaranteed-bitrate4 5=non-guaranteed-bitrate5 6=non-guaranteed-bitrate6
          7=non-guaranteed-bitrate7 8=non-guaranteed-bitrate8
        wdsApnTypeMask (flags):
          1=default 2=ims 4=mms 8=dun 16=supl 32=hipri 64=fota 128=cbs 256=ia 512=emergency
          1024=ut 2048=mcx
        wdsApnType: 0=unspecified 1=internet 2=ims
        """

    public static let resultStatus = QMIEnum("resultStatus")
    public static let protocolError = QMIEnum("protocolError")
    public static let ctlDataFormat = QMIEnum("ctlDataFormat")
    public static let ctlLinkProtocol = QMIEnum("ctlLinkProtocol")
    public static let service = QMIEnum("service")
    public static let wdsIpFamily = QMIEnum("wdsIpFamily")
    public static let wdsAuthentication = QMIEnum("wdsAuthentication")
    public static let wdsPdpType = QMIEnum("wdsPdpType")
    public static let wdsProfileType = QMIEnum("wdsProfileType")
    public static let wdsConnectionStatus = QMIEnum("wdsConnectionStatus")
    public static let wdsCallEndReason = QMIEnum("wdsCallEndReason")
    public static let wdsVerboseType = QMIEnum("wdsVerboseType")
    public static let wdsVerboseMip = QMIEnum("wdsVerboseMip")
    public static let wdsVerboseInternal = QMIEnum("wdsVerboseInternal")
    public static let wdsVerboseCm = QMIEnum("wdsVerboseCm")
    public static let wdsVerbose3gpp = QMIEnum("wdsVerbose3gpp")
    public static let wdsVerbosePpp = QMIEnum("wdsVerbosePpp")
    public static let wdsVerboseEhrpd = QMIEnum("wdsVerboseEhrpd")
    public static let wdsVerboseIpv6 = QMIEnum("wdsVerboseIpv6")
    public static let wdsDataBearerTechnology = QMIEnum("wdsDataBearerTechnology")
    public static let wdsNetworkType = QMIEnum("wdsNetworkType")
    public static let wdsRequestedSettings = QMIEnum("wdsRequestedSettings")
    public static let wdsProfileError = QMIEnum("wdsProfileError")
    public static let wdsExtendedTechnologyPreference = QMIEnum("wdsExtendedTechnologyPreference")
    public static let wdsClientType = QMIEnum("wdsClientType")
    public static let wdsCallType = QMIEnum("wdsCallType")
    public static let wdsTechnologyPreference = QMIEnum("wdsTechnologyPreference")
    public static let wdsDormancyStatus = QMIEnum("wdsDormancyStatus")
    public static let wdsDataCallStatus = QMIEnum("wdsDataCallStatus")
    public static let dataEndpointType = QMIEnum("dataEndpointType")
    public static let nasRegistrationState = QMIEnum("nasRegistrationState")
    public static let nasAttachState = QMIEnum("nasAttachState")
    public static let nasNetworkType = QMIEnum("nasNetworkType")
    public static let nasRadioInterface = QMIEnum("nasRadioInterface")
    public static let nasRoamingIndicator = QMIEnum("nasRoamingIndicator")
    public static let nasEvdoSinrLevel = QMIEnum("nasEvdoSinrLevel")
    public static let nasActiveBand = QMIEnum("nasActiveBand")
    public static let nasDLBandwidth = QMIEnum("nasDLBandwidth")
    public static let wdsPacketStatisticsMask = QMIEnum("wdsPacketStatisticsMask")
    public static let nasDataCapability = QMIEnum("nasDataCapability")
    public static let nasServiceStatus = QMIEnum("nasServiceStatus")
    public static let nasServiceDomain = QMIEnum("nasServiceDomain")
    public static let nasRoamingStatus = QMIEnum("nasRoamingStatus")
    public static let dmsPinId = QMIEnum("dmsPinId")
    public static let dmsPinStatus = QMIEnum("dmsPinStatus")
    public static let dmsOperatingMode = QMIEnum("dmsOperatingMode")
    public static let uimSessionType = QMIEnum("uimSessionType")
    public static let uimPinId = QMIEnum("uimPinId")
    public static let uimCardState = QMIEnum("uimCardState")
    public static let uimPinState = QMIEnum("uimPinState")
    public static let uimCardError = QMIEnum("uimCardError")
    public static let uimApplicationType = QMIEnum("uimApplicationType")
    public static let uimApplicationState = QMIEnum("uimApplicationState")
    public static let wdaLinkLayerProtocol = QMIEnum("wdaLinkLayerProtocol")
    public static let wdaAggregationProtocol = QMIEnum("wdaAggregationProtocol")
    public static let nasSignalStrengthRequest = QMIEnum("nasSignalStrengthRequest")
    public static let nasHdrPersonality = QMIEnum("nasHdrPersonality")
    public static let nasHdrProtocolRevision = QMIEnum("nasHdrProtocolRevision")
    public static let nasCallBarringStatus = QMIEnum("nasCallBarringStatus")
    public static let nasNetworkNameSource = QMIEnum("nasNetworkNameSource")
    public static let nasNetworkDescriptionDisplay = QMIEnum("nasNetworkDescriptionDisplay")
    public static let nasNetworkDescriptionEncoding = QMIEnum("nasNetworkDescriptionEncoding")
    public static let nasNetworkNameDisplayCondition = QMIEnum("nasNetworkNameDisplayCondition")
    public static let nasPlmnEncodingScheme = QMIEnum("nasPlmnEncodingScheme")
    public static let nasPlmnNameCountryInitials = QMIEnum("nasPlmnNameCountryInitials")
    public static let nasPlmnNameSpareBits = QMIEnum("nasPlmnNameSpareBits")
    public static let nasPlmnLanguageId = QMIEnum("nasPlmnLanguageId")
    public static let nasBoolean = QMIEnum("nasBoolean")
    public static let nasWcdmaHsService = QMIEnum("nasWcdmaHsService")
    public static let nasCellBroadcastCapability = QMIEnum("nasCellBroadcastCapability")
    public static let nasSimRejectState = QMIEnum("nasSimRejectState")
    public static let nasLteVoiceDomain = QMIEnum("nasLteVoiceDomain")
    public static let nasNetworkSelectionRegistrationRestriction = QMIEnum("nasNetworkSelectionRegistrationRestriction")
    public static let nasLteRegistrationDomain = QMIEnum("nasLteRegistrationDomain")
    public static let nasLteCellAccessStatus = QMIEnum("nasLteCellAccessStatus")
    public static let nasWcdmaRrcState = QMIEnum("nasWcdmaRrcState")
    public static let dmsUimState = QMIEnum("dmsUimState")
    public static let wdsTrafficClass = QMIEnum("wdsTrafficClass")
    public static let wdsDeliveryOrder = QMIEnum("wdsDeliveryOrder")
    public static let wdsSduErrorRatio = QMIEnum("wdsSduErrorRatio")
    public static let wdsSduResidualBitErrorRatio = QMIEnum("wdsSduResidualBitErrorRatio")
    public static let wdsSduErroneousDelivery = QMIEnum("wdsSduErroneousDelivery")
    public static let wdsPdpHeaderCompressionType = QMIEnum("wdsPdpHeaderCompressionType")
    public static let wdsPdpDataCompressionType = QMIEnum("wdsPdpDataCompressionType")
    public static let wdsPdpAccessControl = QMIEnum("wdsPdpAccessControl")
    public static let wdsAddressAllocationPreference = QMIEnum("wdsAddressAllocationPreference")
    public static let wdsQosClassIdentifier = QMIEnum("wdsQosClassIdentifier")
    public static let wdsApnTypeMask = QMIEnum("wdsApnTypeMask")
    /// Start Network's APN type (Qualcomm's wds_apn_type_enum_v01), not libqmi's.
    public static let wdsApnType = QMIEnum("wdsApnType")

    /// The table called `name` (the catalogue's schema text names them), nil if none is.
    static func named(_ name: String) -> QMIEnum? {
        let e = QMIEnum(name)
        return e.withEntries { _, _ in true } != nil ? e : nil
    }
}

/// Names of QMI protocol error codes (the Error field of the result TLV 0x02).
/// QMI result codes by name: `QMIProtocolError` (generated from the protocolError table,
/// in QMIMessages) has one per value.
public enum QMIErrorCode {
    public static func name(_ code: UInt16) -> String {
        QMIEnums.protocolError.name(of: Int64(code)) ?? "UnknownError"
    }
}
