<?xml version="1.0" encoding="UTF-8"?>
<!--
  Licensing's canonical VisaEligibilityResult → the police's visa:CheckVisaEligibilityResponse.
  EligibleFlag is Y/N; the reason text is the English one (the police contract has one text).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:visa="urn:om:rop:visa:2021"
    exclude-result-prefixes="rabt">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:param name="source_message_id"/>
  <xsl:param name="hub_message_id"/>

  <xsl:template match="/rabt:VisaEligibilityResult">
    <visa:CheckVisaEligibilityResponse>
      <visa:MsgId><xsl:value-of select="$source_message_id"/></visa:MsgId>
      <visa:HubMessageId><xsl:value-of select="$hub_message_id"/></visa:HubMessageId>
      <visa:LicenceNo><xsl:value-of select="normalize-space(rabt:LicenceNumber)"/></visa:LicenceNo>
      <visa:EligibleFlag>
        <xsl:choose>
          <xsl:when test="normalize-space(rabt:Eligible) = 'true' or normalize-space(rabt:Eligible) = '1'">Y</xsl:when>
          <xsl:otherwise>N</xsl:otherwise>
        </xsl:choose>
      </visa:EligibleFlag>
      <visa:ReasonCode><xsl:value-of select="normalize-space(rabt:Reason/rabt:Code)"/></visa:ReasonCode>
      <xsl:if test="rabt:Reason/rabt:Text[lang('en')]">
        <visa:ReasonText><xsl:value-of select="rabt:Reason/rabt:Text[lang('en')][1]"/></visa:ReasonText>
      </xsl:if>
      <xsl:if test="rabt:RemainingVacancies">
        <visa:RemainingVacancies><xsl:value-of select="normalize-space(rabt:RemainingVacancies)"/></visa:RemainingVacancies>
      </xsl:if>
    </visa:CheckVisaEligibilityResponse>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected a canonical VisaEligibilityResult, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
