<?xml version="1.0" encoding="UTF-8"?>
<!--
  Licensing's canonical LabourCaseReferral → the labour court's lc:ReceiveComplaintReferral.
  ReferralRef is the hub's id of the referral message (parameter
  "query_message_id"): a redelivered referral carries the same ref, and the
  court opens no second case for it. The court needs the worker's civil
  number and the employer's CR number; a referral without them is refused.
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:lc="urn:om:mjla:labourcourt:2022"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:param name="query_message_id"/>

  <xsl:template match="/rabt:LabourCaseReferral">
    <xsl:variable name="worker" select="rabt:Parties/rabt:Worker"/>
    <xsl:variable name="employer" select="rabt:Parties/rabt:Employer"/>
    <xsl:if test="not($worker/rabt:CivilNumber)">
      <xsl:message terminate="yes">the labour court needs the worker's civil number (Parties/Worker/CivilNumber)</xsl:message>
    </xsl:if>
    <xsl:if test="not($employer/rabt:CRNumber)">
      <xsl:message terminate="yes">the labour court needs the employer's CR number (Parties/Employer/CRNumber)</xsl:message>
    </xsl:if>
    <lc:ReceiveComplaintReferral>
      <lc:ReferralRef><xsl:value-of select="$query_message_id"/></lc:ReferralRef>
      <lc:ComplaintNo><xsl:value-of select="normalize-space(rabt:ComplaintId)"/></lc:ComplaintNo>
      <lc:ReferredOn><xsl:value-of select="normalize-space(rabt:ReferredOn)"/></lc:ReferredOn>
      <xsl:if test="rabt:Court/rabt:Code">
        <lc:CourtCode><xsl:value-of select="normalize-space(rabt:Court/rabt:Code)"/></lc:CourtCode>
      </xsl:if>
      <lc:PlaintiffCivilNo><xsl:value-of select="normalize-space($worker/rabt:CivilNumber)"/></lc:PlaintiffCivilNo>
      <lc:PlaintiffName><xsl:call-template name="name"><xsl:with-param name="of" select="$worker"/></xsl:call-template></lc:PlaintiffName>
      <xsl:if test="$worker/rabt:Nationality">
        <lc:PlaintiffNationality><xsl:value-of select="normalize-space($worker/rabt:Nationality)"/></lc:PlaintiffNationality>
      </xsl:if>
      <lc:DefendantCRNo><xsl:value-of select="normalize-space($employer/rabt:CRNumber)"/></lc:DefendantCRNo>
      <lc:DefendantName><xsl:call-template name="name"><xsl:with-param name="of" select="$employer"/></xsl:call-template></lc:DefendantName>
      <xsl:for-each select="rabt:Subject">
        <xsl:variable name="s" select="normalize-space(.)"/>
        <lc:ClaimType>
          <xsl:choose>
            <xsl:when test="$s = 'unpaid-wages'">WAGE</xsl:when>
            <xsl:when test="$s = 'end-of-service-gratuity'">EOSG</xsl:when>
            <xsl:when test="$s = 'unfair-dismissal'">DISM</xsl:when>
            <xsl:when test="$s = 'withheld-passport'">PASS</xsl:when>
            <xsl:when test="$s = 'leave-and-air-ticket'">LEAV</xsl:when>
            <xsl:when test="$s = 'work-injury'">INJR</xsl:when>
            <xsl:otherwise>OTHR</xsl:otherwise>
          </xsl:choose>
        </lc:ClaimType>
      </xsl:for-each>
      <xsl:if test="rabt:Summary">
        <lc:Summary>
          <xsl:choose>
            <xsl:when test="rabt:Summary[lang('en')]"><xsl:value-of select="normalize-space(rabt:Summary[lang('en')][1])"/></xsl:when>
            <xsl:otherwise><xsl:value-of select="normalize-space(rabt:Summary[1])"/></xsl:otherwise>
          </xsl:choose>
        </lc:Summary>
      </xsl:if>
      <xsl:if test="rabt:AmountClaimed">
        <lc:ClaimedAmount><xsl:value-of select="format-number(number(normalize-space(rabt:AmountClaimed)), '0.000')"/></lc:ClaimedAmount>
      </xsl:if>
    </lc:ReceiveComplaintReferral>
  </xsl:template>

  <!-- The English name when there is one (the court's registry is kept in English), else the first. -->
  <xsl:template name="name">
    <xsl:param name="of"/>
    <xsl:choose>
      <xsl:when test="$of/rabt:Name[lang('en')]"><xsl:value-of select="normalize-space($of/rabt:Name[lang('en')][1])"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="normalize-space($of/rabt:Name[1])"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical LabourCaseReferral, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
