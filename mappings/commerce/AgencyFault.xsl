<?xml version="1.0" encoding="UTF-8"?>
<!--
  A SOAP Fault from the commercial registry or the chamber of commerce → canonical Fault (read by the outbound worker).
  Input: f:AgencyFault (urn:rabt:outbound:fault) - the faultcode, faultstring and
  detail exactly as the agency sent them. "Not known here" faults (Client.UnknownCR Client.NotAMember)
  become "not-found", which the licensing rules read as "no such record";
  other Client faults "agency-refused"; Server faults "agency-error" (recoverable).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:rabt="urn:rabt:canonical:v1" xmlns:f="urn:rabt:outbound:fault"
    exclude-result-prefixes="f">
  <xsl:output method="xml" encoding="UTF-8"/>
  <xsl:variable name="not-found" select="' Client.UnknownCR Client.NotAMember '"/>

  <xsl:template match="/f:AgencyFault">
    <xsl:variable name="code" select="normalize-space(f:FaultCode)"/>
    <!-- the faultcode without its namespace prefix: "soap:Client.NotInsured" → "Client.NotInsured" -->
    <xsl:variable name="name">
      <xsl:choose>
        <xsl:when test="contains($code, ':')"><xsl:value-of select="substring-after($code, ':')"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="$code"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <xsl:variable name="text" select="normalize-space(f:FaultString)"/>
    <rabt:Fault>
      <rabt:Code>
        <xsl:choose>
          <xsl:when test="contains($not-found, concat(' ', $name, ' '))">not-found</xsl:when>
          <xsl:when test="starts-with($name, 'Client')">agency-refused</xsl:when>
          <xsl:otherwise>agency-error</xsl:otherwise>
        </xsl:choose>
      </rabt:Code>
      <rabt:Reason>
        <xsl:choose>
          <xsl:when test="$text != ''"><xsl:value-of select="substring($text, 1, 2000)"/></xsl:when>
          <xsl:otherwise><xsl:value-of select="concat('SOAP Fault ', $code)"/></xsl:otherwise>
        </xsl:choose>
      </rabt:Reason>
      <rabt:Agency><xsl:value-of select="normalize-space(f:Agency)"/></rabt:Agency>
      <rabt:OriginalMessageId><xsl:value-of select="normalize-space(f:OriginalMessageId)"/></rabt:OriginalMessageId>
      <rabt:Recoverable><xsl:value-of select="normalize-space(f:Recoverable)"/></rabt:Recoverable>
      <rabt:OccurredAt><xsl:value-of select="normalize-space(f:OccurredAt)"/></rabt:OccurredAt>
      <rabt:Detail>
        <xsl:value-of select="concat(normalize-space(f:System), ': ', normalize-space(f:FaultCode))"/>
        <xsl:for-each select="f:Detail/*/*[local-name() = 'ErrorCode']">
          <xsl:value-of select="concat(' ', normalize-space(.), ' ', normalize-space(../*[local-name() = 'ErrorText']))"/>
        </xsl:for-each>
      </rabt:Detail>
    </rabt:Fault>
  </xsl:template>

  <xsl:template match="/*" priority="-1">
    <xsl:message terminate="yes">expected f:AgencyFault, got <xsl:value-of select="name()"/></xsl:message>
  </xsl:template>
</xsl:stylesheet>
